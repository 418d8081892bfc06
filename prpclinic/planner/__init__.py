"""Centrifuge physics and the PRP yield model: pure Python (NumPy/SciPy), no Django import.

Modules (import what you need; this package imports nothing, so ``rcf`` stays free of NumPy):

- ``rcf``: RCF <-> RPM from the rotor radius (Rickwood 1978).
- ``geometry``: tubes as a cross-section A(z) (flat, round or conical bottom), example tubes.
- ``protocol``: ``Blood``, ``Spin``, ``Step`` and the harvest rules (``PlasmaAboveBuffy``,
  ``UpperPlasmaLayer``, ``UpperVolume``, ``KeepLowerFraction``, ``KeepLowerVolume``).
- ``model``: ``predict(tube, blood, steps) -> Prediction`` and the product measures.
- ``recommend``: rank programs, and a ``CandidateGrid`` of new settings, for a target CF,
  concentration or dose; resuspension volume.
- ``batch``: ``predict_many``, ``predict``'s numbers for many programs at once (one trajectory
  per tube content serves every g and time, since only g·time matters).
- ``calibration``: ``calibrate(observations, base=...)`` fits a centrifuge's ``g_scale`` and
  ``harvest_yield`` to the clinic's own products.
- ``cli``: the ``prpclinic planner`` command's options, validation and output (pure Python).
- ``sedimentation``: the kinematic-wave solver of one spin; ``parameters``, ``constants``: inputs.
- ``observations``, ``fit``, ``fitted``, ``record``, ``trends``: the published data, the fit
  (``python -m prpclinic.planner.fit --write``), the stored fit and the trend checks.

See docs/planner.md.
"""
