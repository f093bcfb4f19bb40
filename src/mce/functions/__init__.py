"""Serverless entry points: each folder is one function app, deployed with its own requirements."""
