"""Media plane control: rtpengine's ng protocol, the rtpengine child process, engine pools."""
