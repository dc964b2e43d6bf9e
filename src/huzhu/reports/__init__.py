"""Reports: the platform's public operating figures, computed once for every adapter (see ``service``)."""
