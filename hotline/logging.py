"""Logging setup: one line per record, to stderr (hotline serve sends it to var/log/)."""

import logging
import os


def configure_logging(process: str) -> None:
    level = os.environ.get("HOTLINE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s {process} %(levelname)s %(name)s: %(message)s",
    )
