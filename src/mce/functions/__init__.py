"""Serverless entry points, each folder one function app: the image processor (Lambda), analytics (Azure)."""
