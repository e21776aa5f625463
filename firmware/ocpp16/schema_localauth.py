# Compact payload tables of the Local Auth List Management profile
# (GetLocalListVersion, SendLocalList). Data only (format: ocpp16/schema.py);
# ocpp16.schema does the checking.

CALLS = (";GetLocalListVersion:"
         ";SendLocalList:IlistVersion alocalAuthorizationList=oAUTHORIZATION_DATA"
         " EupdateType=Differential,Full"
         ";")
AUTHORIZATION_DATA = "SidTag=20 oidTagInfo=schema.ID_TAG_INFO"
