"""gunicorn settings of prpclinic.service, installed as /etc/prpclinic/gunicorn.conf.py.

Only logging lives here (the rest is on the unit's command line): gunicorn's own lines (start-up,
workers booting and dying, timeouts) as JSON with request IDs and redaction, like the app's,
and gunicorn's access log off, since its request line carries the query string
(docs/operations-logs.md).
"""

import prpclinic.logs

logconfig_dict = prpclinic.logs.GUNICORN_LOGCONFIG
