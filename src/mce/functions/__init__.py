"""Serverless functions: code a cloud runs on a trigger (the image processor as an AWS Lambda), and runners here."""
