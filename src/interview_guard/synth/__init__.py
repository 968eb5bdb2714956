"""The labelled-session generator (``interview-guard synth``), apart from detection: nothing outside
this package and the CLI imports it, so the detectors cannot learn it by construction.

:mod:`.generate` (sessions and labels), :mod:`.inputs` (real inputs and their licences),
:mod:`.manipulations`, :mod:`.face_swap`, hand photos (:mod:`.hands`, :mod:`.hand_detect`,
:mod:`.hand_segment`, :mod:`.hand_composite`), typing (:mod:`.keystrokes`, :mod:`.keyboard_sound`)
and the network relay simulator (:mod:`.relay_sim`, :mod:`.relay_profiles`). Rules: docs/architecture.md.
"""
