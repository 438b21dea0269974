"""Competency frameworks: versions, clusters, competencies, elements, levels and indicators."""
