"""ProVoice core library: audio, ASR, quality, catalog and storage, free of Prefect."""

import warnings

__version__ = "0.1.0"

# webrtcvad 2.0.10 (a dependency of resemblyzer too) imports the deprecated pkg_resources only to
# read its own version; that one warning, from that module, is noise a user cannot act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning, module="webrtcvad")
