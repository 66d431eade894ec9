using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Engine;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Microbenchmarks;

/// <summary>
/// A real node with the memory engine, built as tests/Switchboard.Core.Tests/TestNode.cs builds it,
/// but on the system clock with an inert heartbeat: a benchmark must not be disturbed by pings
/// (and, with no pong coming back, 3012 disconnects) or by the once-a-second sweep.
/// </summary>
internal sealed class BenchNode : IDisposable
{
    /// <summary>A namespace that anonymous clients may subscribe to; it keeps no history.</summary>
    public const string Namespace = "bench";

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MemoryBroker _broker;

    public BenchNode()
    {
        var time = new NoHeartbeatTimeProvider();
        var settings = new SwitchboardOptions { NodeName = "bench" };
        settings.Token.HmacSecretKey = "microbenchmark-secret-0123456789-abcdefghij";
        settings.Client.AllowAnonymousConnectWithoutToken = true;
        // Fan-out measures enqueueing; it must never trip the slow-client bound (3008).
        settings.Client.QueueMaxBytes = int.MaxValue;
        settings.Namespaces[Namespace] = new ChannelOptions
        {
            AllowSubscribeForClient = true,
            AllowSubscribeForAnonymous = true,
        };
        var options = Options.Create(settings);
        _broker = new MemoryBroker(time);
        Node = new Node(
            options,
            new ChannelPolicy(options),
            new TokenValidator(options, time),
            _broker,
            new MemoryPresenceManager(time),
            new MemoryClusterControl(),
            time,
            new NodeMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            Handlers.None,
            NullLogger<Node>.Instance);
    }

    public Node Node { get; }

    /// <summary>Waits until every session's outbound queue is empty and no write is in flight.</summary>
    public void WaitUntilQuiet()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Node.QueuedBytes().Total != 0 || Node.Sessions.Any(c => c.IsWriteInFlight))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The writer loops did not drain.");
            }
            Thread.Sleep(10);
        }
        // A writer may have taken its last message but not yet reported the write.
        Thread.Sleep(100);
    }

    public void Dispose()
    {
        var writers = Node.Sessions.Select(c =>
        {
            c.Disconnect(Disconnect.Shutdown);
            return c.Writer;
        }).ToArray();
        Task.WaitAll(writers, TimeSpan.FromSeconds(30));
        Node.Dispose();
        _broker.Dispose();
        _services.Dispose();
    }

    /// <summary>The system clock, with timers that never fire.</summary>
    private sealed class NoHeartbeatTimeProvider : TimeProvider
    {
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new InertTimer();

        private sealed class InertTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}

/// <summary>
/// Counts what the transports of a node wrote and wakes a waiting benchmark when an expected
/// amount has arrived. Each frame counts as its length plus one, so N messages of L bytes come to
/// N × (L + 1) however the writer groups them into newline-separated frames.
/// </summary>
internal sealed class DeliverySink
{
    private readonly ManualResetEventSlim _done = new(false);
    private long _bytes;
    private long _frames;
    private long _target = long.MaxValue;

    public long Frames => Interlocked.Read(ref _frames);

    public long Bytes => Interlocked.Read(ref _bytes);

    public void OnFrame(int length)
    {
        Interlocked.Increment(ref _frames);
        if (Interlocked.Add(ref _bytes, length + 1) >= Volatile.Read(ref _target))
        {
            _done.Set();
        }
    }

    /// <summary>Arms the sink for <paramref name="bytes"/> more (counted as in <see cref="OnFrame"/>).</summary>
    public void Expect(long bytes)
    {
        _done.Reset();
        Volatile.Write(ref _target, Interlocked.Read(ref _bytes) + bytes);
    }

    public void Wait()
    {
        if (!_done.Wait(TimeSpan.FromSeconds(30)))
        {
            throw new TimeoutException($"Expected {Volatile.Read(ref _target)} bytes, saw {Bytes}.");
        }
    }

    public void Reset()
    {
        Interlocked.Exchange(ref _bytes, 0);
        Interlocked.Exchange(ref _frames, 0);
        Volatile.Write(ref _target, long.MaxValue);
    }
}

/// <summary>A transport whose writes complete at once: the cost measured is the server's, not a socket's.</summary>
internal sealed class ImmediateTransport(DeliverySink sink) : ITransport
{
    public string Name => "bench";

    public ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        sink.OnFrame(frame.Length);
        return ValueTask.CompletedTask;
    }

    public ValueTask CloseAsync(Disconnect disconnect, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public void Abort()
    {
    }
}

/// <summary>Realistic payloads.</summary>
internal static class Payloads
{
    /// <summary>A chat-message JSON object of exactly <paramref name="bytes"/> bytes (at least 96).</summary>
    public static RawJson ChatMessage(int bytes)
    {
        const string head = "{\"type\":\"message\",\"user\":\"alice\",\"room\":\"room-42\",\"ts\":1717171717000,\"text\":\"";
        const string tail = "\"}";
        var textLength = bytes - head.Length - tail.Length;
        ArgumentOutOfRangeException.ThrowIfLessThan(textLength, 8, nameof(bytes));
        const string words = "Hello everyone, the build is green again and the release goes out this afternoon. ";
        var text = string.Concat(Enumerable.Repeat(words, (textLength / words.Length) + 1))[..textLength];
        var data = RawJson.Parse(head + text + tail);
        if (data.Utf8.Length != bytes)
        {
            throw new InvalidOperationException($"Payload is {data.Utf8.Length} bytes, not {bytes}.");
        }
        return data;
    }
}
