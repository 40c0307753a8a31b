namespace Optim.Testing
