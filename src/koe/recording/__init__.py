"""Recordings: rtpengine pcap → WAV conversion, storage, delivery (issue 4, add-on R1.3)."""
