def test_nurse_sees_patients(signed_in, personas):
    from tests.conftest import make_patient
    make_patient(personas.clinic_a)
    r = signed_in("nurse").get("/patients/")
    assert r.status_code == 200
    r = signed_in("physician").get("/patients/1/")
    assert r.status_code == 200, r
