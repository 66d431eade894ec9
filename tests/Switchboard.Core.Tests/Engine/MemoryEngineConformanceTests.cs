using Microsoft.Extensions.Time.Testing;
using Switchboard.Engine;

namespace Switchboard.Core.Tests.Engine;

/// <summary>The conformance suite against the memory engine (one node).</summary>
public sealed class MemoryEngineConformanceTests : EngineConformanceTests
{
    protected override Task<EngineParts> CreateEngineAsync(FakeTimeProvider time)
    {
        var broker = new MemoryBroker(time);
        return Task.FromResult(new EngineParts(broker, new MemoryPresenceManager(time), new Disposing(broker)));
    }

    private sealed class Disposing(IDisposable inner) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            inner.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
