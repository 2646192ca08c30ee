"""The OCPI 2.2.1 server, mounted at /ocpi (app.py): the envelope and its status codes,
credentials-token authentication, pagination, shared types, versions and credentials,
and the functional modules each roaming part registers."""
