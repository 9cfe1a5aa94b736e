"""HTTP edge: FastAPI apps run by the Lambda handlers through Mangum."""
