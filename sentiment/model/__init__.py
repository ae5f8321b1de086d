"""The network and its files: the Keras (Bi)LSTM, pretraining, ONNX export and runtimes, the bundle, the model card."""
