/** The MNIST digits classifier's serving shape: 28x28 grey images, 10 classes. The only MNIST specifics of the server. */
import { imageClassifierAdapter } from '../serving/runtime/image-adapter';

export const mnistDigitsAdapter = imageClassifierAdapter({ inputName: 'image', height: 28, width: 28, channels: 1, classes: 10 });
