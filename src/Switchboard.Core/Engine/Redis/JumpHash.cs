using System.IO.Hashing;
using System.Text;

namespace Switchboard.Engine.Redis;

/// <summary>
/// Jump consistent hashing (Lamping and Veach, 2014): a channel always maps to the same shard,
/// and growing from n to n+1 shards moves only 1/(n+1) of the channels.
/// </summary>
internal static class JumpHash
{
    public static int Bucket(string channel, int buckets)
    {
        if (buckets <= 1)
        {
            return 0;
        }
        var key = XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(channel));
        long b = -1, j = 0;
        while (j < buckets)
        {
            b = j;
            key = unchecked(key * 2862933555777941757UL + 1);
            j = (long)((b + 1) * ((double)(1L << 31) / ((key >> 33) + 1)));
        }
        return (int)b;
    }
}
