"""Files: uploads and downloads, type and size rules, scanning, encryption at rest."""
