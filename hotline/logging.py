"""Logging setup: one line per record, to stderr (hotline serve sends it to var/log/), with
citizens' phone and ID numbers masked on every handler."""

import logging
import os

from hotline.privacy import mask_numbers


class MaskNumbers(logging.Filter):
    """Masks phone and ID numbers in the message and any traceback of a record (a database
    error quotes the row it failed on). On handlers, so records of every logger pass it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_numbers(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_numbers(record.stack_info)
        return True


def mask_on_every_handler() -> None:
    """Add the filter to the handlers configured so far: the root's and every named logger's
    (uvicorn's access and error logs have their own)."""
    loggers = [logging.getLogger(), *(
        logger for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    )]  # fmt: skip
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, MaskNumbers) for f in handler.filters):
                handler.addFilter(MaskNumbers())


def configure_logging(process: str) -> None:
    level = os.environ.get("HOTLINE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s {process} %(levelname)s %(name)s: %(message)s",
    )
    mask_on_every_handler()
