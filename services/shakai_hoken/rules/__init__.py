"""Pure 社会保険 rules (no I/O): each function names its rule and its source key in
shared/DOMAIN-SHAHO.md (§ and key). Tables and rates are dated data (``tables.py``, ``rates.py``);
items DOMAIN-SHAHO.md marks [要確認] are settings (``settings.py``) with the stated default."""
