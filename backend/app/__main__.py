"""`python -m app` : lance la passerelle sur HOST:PORT."""

import uvicorn

from app.core.settings import Settings
from app.main import create_app

if __name__ == "__main__":
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
