// The seeds' training loop in C#, line for line: zero_grad, forward, loss, backward, step; then a checkpoint.
//   dotnet run -c Release --project samples/Optim.CSharpSample -- [DATA_DIR] [EPOCHS]
using Optim.CSharp;
using Optim.NN;

const string Installed = "/usr/share/datasets/fashion-mnist";
string directory = args.Length > 0 ? args[0]
    : File.Exists(Path.Combine(Installed, "t10k-labels-idx1-ubyte.gz")) ? Installed
    : Path.Combine("data", "fashion-mnist-sample");
int epochs = args.Length > 1 ? int.Parse(args[1]) : 5;
var data = FashionMnist.Load(directory);
Console.WriteLine($"Fashion-MNIST from {directory}: {data.TrainImages.Shape[0]} training and {data.TestImages.Shape[0]} test images");

var rng = new Random(0);
var model = new Sequential(new Linear(784, 128, random: rng), new ReLU(), new Linear(128, 10, random: rng));
var criterion = new CrossEntropyLoss();
var optimizer = new Adam(model.Parameters(), lr: 1e-3);
var scheduler = new StepLR(optimizer, stepSize: 3, gamma: 0.5);
var loader = new DataLoader(data.Train, batchSize: 64, shuffle: true, seed: 0);

for (int epoch = 0; epoch < epochs; epoch++)
{
    double total = 0;
    foreach (var (x, y) in loader)
    {
        optimizer.ZeroGrad();
        var loss = criterion.Forward(model.Forward(x), y);
        loss.Backward();
        optimizer.Step();
        total += loss.Item();
    }
    scheduler.Step();
    Console.WriteLine($"epoch {epoch + 1}: loss {total / loader.Count:F4}, test accuracy {Accuracy():F4}, next lr {scheduler.GetLastLr()[0]:G3}");
}

// A checkpoint in PyTorch's state_dict layout; a fresh optimizer over the same parameters resumes from it.
string checkpoint = optimizer.StateDict().ToJson();
var resumed = new Adam(model.Parameters());
resumed.LoadStateDict(StateDict.FromJson(checkpoint));
Console.WriteLine($"checkpoint: {checkpoint.Length:N0} characters of JSON, resumed at lr {resumed.ParamGroups[0].Lr:G3}");

double Accuracy()
{
    using var _ = Tensor.NoGrad();
    var logits = model.Forward(data.TestImages);
    int classes = logits.Shape[1], correct = 0;
    for (int i = 0; i < logits.Shape[0]; i++)
    {
        int best = 0;
        for (int c = 1; c < classes; c++) if (logits.Data[i * classes + c] > logits.Data[i * classes + best]) best = c;
        if (best == data.TestLabels[i]) correct++;
    }
    return (double)correct / data.TestLabels.Length;
}
