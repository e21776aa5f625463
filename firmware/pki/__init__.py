# Public-key infrastructure for the Security extension, written in the portable
# subset: DER, PEM, X.509, P-256 ECDSA, RSA verification, PKCS#10 requests.
# Loaded on demand only (never resident); nothing here does I/O or reads a clock.
