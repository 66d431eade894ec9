using System.Text;
using BenchmarkDotNet.Attributes;
using Switchboard.Protocol;

namespace Switchboard.Microbenchmarks;

/// <summary>Parsing an incoming frame into commands: <see cref="JsonCodec.DecodeFrame"/>.</summary>
[MemoryDiagnoser]
public class CommandDecodeBenchmarks
{
    private const string PublishLine =
        "{\"id\":7,\"publish\":{\"channel\":\"chat:room-42\",\"data\":{\"type\":\"message\",\"user\":\"alice\",\"text\":\"Hello, how is everyone doing today?\",\"ts\":1717171717000}}}";

    private byte[] _publish = null!;
    private byte[] _subscribeRecover = null!;
    private byte[] _batch10 = null!;

    [GlobalSetup]
    public void Setup()
    {
        _publish = Encoding.UTF8.GetBytes(PublishLine);
        _subscribeRecover = Encoding.UTF8.GetBytes(
            "{\"id\":2,\"subscribe\":{\"channel\":\"chat:room-42\",\"recover\":true,\"epoch\":\"xA3f9Qz1\",\"offset\":18342,\"recoverable\":true,\"positioned\":true}}");
        // What a client library sends when it batches: ten commands joined with newlines.
        _batch10 = Encoding.UTF8.GetBytes(string.Join('\n', Enumerable.Range(10, 10).Select(id => PublishLine.Replace("\"id\":7", $"\"id\":{id}", StringComparison.Ordinal))));
        if (JsonCodec.DecodeFrame(_batch10).Count != 10 || JsonCodec.DecodeFrame(_subscribeRecover)[0].Subscribe is not { Recover: true, Offset: 18342 })
        {
            throw new InvalidOperationException("The sample frames do not decode as expected.");
        }
    }

    [Benchmark(Baseline = true)]
    public int Publish() => JsonCodec.DecodeFrame(_publish).Count;

    [Benchmark]
    public int SubscribeWithRecovery() => JsonCodec.DecodeFrame(_subscribeRecover).Count;

    [Benchmark]
    public int Batch10Publishes() => JsonCodec.DecodeFrame(_batch10).Count;
}
