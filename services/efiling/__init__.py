"""電子申請: e-Gov packages, submission, status tracking, official documents (公文書), 補正 / 取下げ."""
