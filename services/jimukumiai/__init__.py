"""労働保険事務組合: member employers (委託事業主), 年度更新, installments, premium ledger, 特別加入."""
