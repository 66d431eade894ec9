using System.Text;
using BenchmarkDotNet.Attributes;
using Switchboard.Protocol;

namespace Switchboard.Microbenchmarks;

/// <summary>
/// Fan-out of one publication to 1,000 local subscribers of one channel:
/// <see cref="Sessions.Hub.BroadcastPublication"/> (one serialization, 1,000 enqueues).
/// </summary>
[MemoryDiagnoser]
public class FanOutBenchmarks
{
    private const int Subscribers = 1000;
    private const string Channel = BenchNode.Namespace + ":x";

    private readonly DeliverySink _sink = new();
    private BenchNode _node = null!;
    private Publication _publication = null!;
    private long _messageBytes;

    [GlobalSetup]
    public void Setup()
    {
        _node = new BenchNode();
        _publication = new Publication { Data = Payloads.ChatMessage(100) };
        _messageBytes = JsonCodec.EncodePublication(Channel, _publication).Length;
        // Each client connects and subscribes through its real command path.
        var frame = Encoding.UTF8.GetBytes("{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"" + Channel + "\"}}");
        for (var i = 0; i < Subscribers; i++)
        {
            var client = _node.Node.CreateClient(new ImmediateTransport(_sink));
            client.HandleFrameAsync(frame, CancellationToken.None).GetAwaiter().GetResult();
        }
        var subscribed = _node.Node.Hub.Subscribers(Channel).Length;
        if (subscribed != Subscribers)
        {
            throw new InvalidOperationException($"{subscribed} clients subscribed, not {Subscribers}.");
        }
        _node.WaitUntilQuiet();
        _sink.Reset();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Console.WriteLine($"// fan-out: {_sink.Frames} frames, {_sink.Bytes} bytes written to the transports");
        _node.Dispose();
    }

    /// <summary>What the publisher pays: the writer loops drain in the background.</summary>
    [Benchmark(Baseline = true)]
    public void BroadcastPublication() => _node.Node.Hub.BroadcastPublication(Channel, _publication);

    /// <summary>The whole cost: the broadcast, then until all 1,000 writer loops have written it.</summary>
    [Benchmark]
    public void BroadcastPublicationAndDrain()
    {
        _sink.Expect(Subscribers * (_messageBytes + 1));
        _node.Node.Hub.BroadcastPublication(Channel, _publication);
        _sink.Wait();
    }
}
