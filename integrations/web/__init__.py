"""The web app: FastAPI, the chat page, the JSON API and the Slack endpoint."""
