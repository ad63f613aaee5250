# SPDX-License-Identifier: Apache-2.0
"""The print engine's files: cupsd's two configuration files and ipptool's tests.

Why these settings: cupsd listens on ``127.0.0.1`` only and lets anyone on
the loopback administer it (the engine runs ``lpadmin`` without a
password); ``Sandboxing Relaxed`` because the engine's folders are not
CUPS's usual ones; ``PreserveJobFiles No`` because the printer keeps what it
receives (``ippeveprinter -k``), which is what the tests compare.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CONTROL_TEST", "CUPSD_CONF", "CUPS_FILES_CONF", "STATE_TEST"]

CUPSD_CONF: Final = """\
Listen 127.0.0.1:{port}
LogLevel warn
Browsing No
DefaultAuthType None
MaxJobs 0
PreserveJobFiles No
<Location />
  Order allow,deny
  Allow from 127.0.0.1
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""

CUPS_FILES_CONF: Final = """\
ServerRoot {root}/conf
RequestRoot {root}/spool
TempDir {root}/tmp
CacheDir {root}/cache
StateDir {root}/state
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
Sandboxing Relaxed
"""

STATE_TEST: Final = """\
{
  NAME "printer state"
  OPERATION Get-Printer-Attributes
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR keyword requested-attributes printer-state,printer-state-reasons
  STATUS successful-ok
  DISPLAY printer-state
  DISPLAY printer-state-reasons
}
"""

CONTROL_TEST: Final = """\
{
  NAME "myna engine control job"
  OPERATION Print-Job
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR name requesting-user-name engine
  ATTR name job-name myna-engine-control
  ATTR mimeMediaType document-format application/pdf
  FILE $filename
  STATUS successful-ok
}
"""
