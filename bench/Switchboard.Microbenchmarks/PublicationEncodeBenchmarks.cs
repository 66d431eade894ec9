using BenchmarkDotNet.Attributes;
using Switchboard.Protocol;

namespace Switchboard.Microbenchmarks;

/// <summary>Serializing a publication push once for fan-out: <see cref="JsonCodec.EncodePublication"/>.</summary>
[MemoryDiagnoser]
public class PublicationEncodeBenchmarks
{
    private const string Channel = "chat:room-42";

    private Publication _publication = null!;

    /// <summary>Size of the publication's JSON data.</summary>
    [Params(100, 1024)]
    public int DataBytes { get; set; }

    [GlobalSetup]
    public void Setup() => _publication = new Publication { Data = Payloads.ChatMessage(DataBytes), Offset = 18343 };

    [Benchmark]
    public byte[] EncodePublication() => JsonCodec.EncodePublication(Channel, _publication);
}
