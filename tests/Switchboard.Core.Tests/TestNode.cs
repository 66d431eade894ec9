using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Engine;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Core.Tests;

/// <summary>A node with the memory engine and a fake clock, for tests of sessions without sockets.</summary>
internal sealed class TestNode : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MemoryBroker _broker;

    public TestNode(Action<SwitchboardOptions>? configure = null)
    {
        var options = TestOptions.Create(configure);
        _broker = new MemoryBroker(Time);
        Node = new Node(
            options,
            new ChannelPolicy(options),
            new TokenValidator(options, Time),
            _broker,
            new MemoryPresenceManager(Time),
            new MemoryClusterControl(),
            Time,
            new NodeMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            Handlers.None,
            NullLogger<Node>.Instance);
    }

    public FakeTimeProvider Time { get; } = new();

    public Node Node { get; }

    public void Dispose()
    {
        Node.Dispose();
        _broker.Dispose();
        _services.Dispose();
    }
}

/// <summary>A transport whose writes block until the test lets them through, recording every frame.</summary>
internal sealed class GatedTransport : ITransport
{
    private readonly Channel<string> _frames = Channel.CreateUnbounded<string>();
    private readonly TaskCompletionSource<Disconnect> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _gate = new(0);
    private readonly SemaphoreSlim _writeStarted = new(0);

    public string Name => "test";

    public Task<Disconnect> Closed => _closed.Task;

    /// <summary>Lets <paramref name="count"/> writes complete.</summary>
    public void Release(int count = 1) => _gate.Release(count);

    /// <summary>Completes when a write has begun (and is waiting at the gate).</summary>
    public Task WriteStartedAsync() => _writeStarted.WaitAsync(TimeSpan.FromSeconds(10));

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        var text = System.Text.Encoding.UTF8.GetString(frame.Span);
        _writeStarted.Release();
        await _gate.WaitAsync(cancellationToken);
        _frames.Writer.TryWrite(text);
    }

    public ValueTask CloseAsync(Disconnect disconnect, CancellationToken cancellationToken)
    {
        _closed.TrySetResult(disconnect);
        return ValueTask.CompletedTask;
    }

    public void Abort() => _closed.TrySetResult(new Disconnect(1006, "aborted"));

    public async Task<string> NextFrameAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await _frames.Reader.ReadAsync(cts.Token);
    }
}
