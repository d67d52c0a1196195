"""From MA/CRM exports to honest, point-in-time training sets and feature vectors."""
