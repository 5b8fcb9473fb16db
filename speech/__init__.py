"""Voice front door: ASR engines, TTS, the IVR call session and its transports.

`speech` uses no other part of the project, only the shared plumbing in `hotline/` (the number
rules: hotline.numbers): a call session is given the function that runs one bot turn
(gateway.chat_api.run_turn wrapped by the gateway).
"""
