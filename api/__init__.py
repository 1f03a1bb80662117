"""HTTP: routes, auth, schemas, the web pages.

Empty until the statement service is built (issue "The statement service"); the command line
in ``app.py`` is the only way in for now.
"""
