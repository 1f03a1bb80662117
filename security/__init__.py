"""Keys, encryption, accounts, tokens and the audit chain.

Sits between the domain (``models``, the only package of ours it imports) and the service layer
(``workflow``) and HTTP (``api``), which both use it.
"""
