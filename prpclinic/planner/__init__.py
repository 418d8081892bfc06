"""Centrifuge physics and the PRP yield model: pure Python (NumPy/SciPy), no Django import.

Modules (import what you need; this package imports nothing, so ``rcf`` stays free of NumPy):

- ``rcf``: RCF <-> RPM from the rotor radius (Rickwood 1978).
- ``geometry``: tubes as a cross-section A(z) (flat, round or conical bottom), example tubes.
- ``protocol``: ``Blood``, ``Spin``, ``Step`` and the harvest rules (``PlasmaAboveBuffy``,
  ``UpperPlasmaLayer``, ``UpperVolume``, ``KeepLowerFraction``, ``KeepLowerVolume``).
- ``model``: ``predict(tube, blood, steps) -> Prediction`` and the product measures.
- ``recommend``: rank programs for a target CF, concentration or dose; resuspension volume.
- ``sedimentation``: the kinematic-wave solver of one spin; ``parameters``, ``constants``: inputs.
- ``observations``, ``fit``, ``fitted``, ``record``, ``trends``: the published data, the fit
  (``python -m prpclinic.planner.fit --write``), the stored fit and the trend checks.

See docs/planner.md.
"""
