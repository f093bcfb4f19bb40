"""The analytics consumer as an Azure Function app (function_app.py, host.json, requirements.txt)."""
