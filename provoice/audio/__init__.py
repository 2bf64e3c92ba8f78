"""Audio handling: probing, conversion to the training format, voice activity segmentation."""
