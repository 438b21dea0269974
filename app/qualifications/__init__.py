"""Job qualification standards: the competencies and levels a position requires."""
