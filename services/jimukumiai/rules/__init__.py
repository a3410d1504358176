"""Pure rules of the 労働保険事務組合 (no I/O): rates as dated data, 年度更新, 延納, 特別加入, 報奨金,
the size limit of 委託事業主. Each names its source; the worked examples of shared/DOMAIN.md B6–B9
are their tests (tests/jimukumiai/)."""
