"""Model families. Import a family's module directly, or build models by name with
:func:`genzoo.create_model`."""
