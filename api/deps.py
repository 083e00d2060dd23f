"""Dependencies shared by routers, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from etp.container import App


def get_app(request: Request) -> App:
    app: App = request.app.state.etp
    return app


EtpApp = Annotated[App, Depends(get_app)]
