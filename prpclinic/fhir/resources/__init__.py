"""FHIR resource builders, one module per area; each registers its types in ``prpclinic.fhir.registry``."""
