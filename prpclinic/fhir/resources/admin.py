"""Administrative FHIR resources: Patient, Appointment, Consent, QuestionnaireResponse, CarePlan, Provenance."""
