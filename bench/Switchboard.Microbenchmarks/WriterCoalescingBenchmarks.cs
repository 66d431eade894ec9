using BenchmarkDotNet.Attributes;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Microbenchmarks;

/// <summary>
/// One connection's writer loop draining N queued publications into newline-separated frames:
/// <see cref="Client.Enqueue"/> N times, then until the transport has seen all N.
/// </summary>
[MemoryDiagnoser]
public class WriterCoalescingBenchmarks
{
    private const string Channel = BenchNode.Namespace + ":x";

    private readonly DeliverySink _sink = new();
    private BenchNode _node = null!;
    private Client _client = null!;
    private ReadOnlyMemory<byte> _message;
    private long _operations;

    /// <summary>Messages queued before the writer drains them.</summary>
    [Params(10, 100)]
    public int Messages { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _node = new BenchNode();
        _client = _node.Node.CreateClient(new ImmediateTransport(_sink));
        _message = JsonCodec.EncodePublication(Channel, new Publication { Data = Payloads.ChatMessage(100), Offset = 18343 });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_operations > 0)
        {
            Console.WriteLine($"// coalescing: {Messages} messages per operation, {(double)_sink.Frames / _operations:F2} frames per operation");
        }
        _node.Dispose();
    }

    [Benchmark]
    public void EnqueueAndDrain()
    {
        _operations++;
        _sink.Expect(Messages * (_message.Length + 1L));
        for (var i = 0; i < Messages; i++)
        {
            _client.Enqueue(_message);
        }
        _sink.Wait();
    }
}
