# IEC 61851 charging control: pilot states, the safety interlock, the current
# offer and the OCPP connector status they imply. No network, no flash.
