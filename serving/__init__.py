"""The serving stage: the champion behind an HTTP API (FastAPI), reusing the library.

`serving.app.create_app` is the app factory; `make serve` runs it with uvicorn.
"""
