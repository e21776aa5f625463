# The firmware (application) version: BootNotification's firmwareVersion, the version an
# application bundle carries (tools/mkbundle.py writes this file into each bundle). Data only.
VERSION = "0.1.0"
