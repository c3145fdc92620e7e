"""CDS Hooks 2.0 service suggesting CPT codes, modifiers and missing documentation."""

__version__ = "0.1.0"
