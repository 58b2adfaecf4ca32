"""The server's features, one module each; each has `register(server)`
(`server.py` assembles them). What a feature computes from a chat (a
symbol, a fold, a diagnostic) lives in a pure module beside the parser.
"""
